# SSDLite224-MobileNetV1 (half width) on the bundled demo set: handwritten digits from scikit-learn pasted onto
# softened scikit-image photographs, made at the network's input size (224 x 224), COCO format, 10 classes.
# `make demo` writes the set (tools/make_demo_dataset.py --config <this file>), trains the detector with
# tools/train.py, then evaluates and draws it with tools/test.py. The backbone starts from ssdkit's digit
# classifier (MobileNetV1(pretrained='digits'), made by tools/pretrain_demo_backbone.py from the train split's
# digits only), as a user's detector starts from ImageNet. docs/demo.md: the recipe, its measurements and what
# it departs from; docs/recipes.md lists the departures from the paper.
_base_ = [
    '../_base_/models/ssdlite300_mobilenet.py',
    '../_base_/schedules/ssd_voc_120k.py',
    '../_base_/default_runtime.py',
]
input_size = 224
data_root = 'data/demo/'
# the set this config trains on; digit sides from 28 px (tight boxes from about 14 px) to 0.6 of the image
demo_dataset = dict(
    num_train=4000,
    num_val=500,
    image_size=input_size,
    min_px=28,
    max_frac=0.6,
    max_objects=4,
    aspect_range=(0.7, 1.0),
    stroke_contrast=2.0,
    backdrop_blur=8.0,
    backdrop_contrast=0.35,
)
model = dict(
    num_classes=10,  # the set's ten digits
    # the digit classifier's weights, with their normalisation (RGB, (x - 127.5) / 127.5); the stem and
    # blocks 1-5 stay frozen (the released SSD freezes VGG's first stages the same way)
    backbone=dict(width_mult=0.5, pretrained='digits', frozen_stages=5),
    # the last extra layer sees a 1x1 map at 224: a 1x1 depthwise conv there (a 3x3 one would see only padding
    # but for its centre, and oneDNN's bfloat16 weight gradient then leaves the padding taps undefined)
    neck=dict(kernel_sizes=(3, 3, 3, 1), paddings=(1, 1, 1, 0), strides=(2, 2, 2, 1)),
    head=dict(init_background_prob=0.99),  # RetinaNet's prior-probability bias for the softmax
    prior_generator=dict(s_min=0.1, s_max=0.8),  # the set's object sizes
    matcher=dict(_delete_=True, type='ArgMaxMatcher', matched_threshold=0.5, unmatched_threshold=0.4),
)
pipeline = [dict(type='LoadImage'), dict(type='Resize', size=(input_size, input_size)), dict(type='PackInputs')]
train_dataloader = dict(
    batch_size=8,
    num_workers='auto',  # none on 4 cores or fewer: a loader process would fight the network's threads
    persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type='CocoDataset',
        data_root=data_root,
        ann_file='annotations/instances_train.json',
        data_prefix=dict(img='train/'),
        pipeline=pipeline,
    ),
)
val_dataloader = dict(
    batch_size=16,
    num_workers='auto',
    persistent_workers=False,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type='CocoDataset',
        data_root=data_root,
        ann_file='annotations/instances_val.json',
        data_prefix=dict(img='val/'),
        test_mode=True,
        pipeline=pipeline,
    ),
)
test_dataloader = val_dataloader
val_evaluator = dict(type='VOCMetric', iou_threshold=0.5, mode='area')
test_evaluator = val_evaluator
max_iters = 1200
# bfloat16 autocast where the CPU or GPU has it natively, float32 elsewhere
optim_wrapper = dict(
    _delete_=True,
    type='BF16OptimWrapper',
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-4),
    paramwise_cfg=dict(norm_decay_mult=0, bias_decay_mult=0),  # decay on conv weights only
)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=100, end=max_iters, eta_min=1e-4),
]
# no validation during training: `make demo` evaluates the final checkpoint once, with tools/test.py
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters + 1)
default_hooks = dict(logger=dict(interval=100), checkpoint=dict(interval=max_iters))
