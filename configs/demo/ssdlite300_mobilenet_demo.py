# SSD300-MobileNet on the bundled demo set (tools/make_demo_dataset.py --out data/demo): handwritten
# digits from scikit-learn pasted onto softened scikit-image photographs, COCO format, 10 classes.
# `make demo` trains it from scratch (no pretrained weights offline) on a 2-core CPU: 7 min in all on a
# Zen 4 EPYC in bfloat16 (2700 iterations at 0.12 s, val mAP@0.5 0.852 on 500 images); 8.5 min
# emulating an AVX2-only CPU in float32 (0.156 s, 0.835); a real AVX2-only EPYC is about 2.4x slower a step (README).
# What the short from-scratch schedule needs, each measured on the demo set (README, "The demo"):
#   - a half-width MobileNet (2.5x faster than width 1 at 300x300);
#   - priors from 0.1 to 0.8 of the input, the demo set's object sizes;
#   - an ignore band (IoU 0.4 .. 0.5 neither positive nor negative) and SGD at lr 0.1 (0.2 is worse);
#   - the head starting at background probability 0.99 and no weight decay on BatchNorm and biases
#     (val mAP +0.04 at 1800 iterations, two seeds);
#   - batch 8 with twice the updates beats batch 16 for the same images; one process with two
#     threads and no loader process beats two torchrun processes of one thread;
#   - no augmentation (it costs CPU per step): 4000 generated images narrow the train/val gap instead;
#   - bfloat16 autocast (BF16OptimWrapper): 0.24 s/iteration instead of 0.27-0.32 in float32 on an
#     AMX CPU (val mAP 0.848 against 0.810, one run each); float32 on a CPU without native bf16;
#   - less compute stays below a reliable mAP 0.8: input 224, width 0.35 or 0.25, batch 4; 1800 iterations of
#     this recipe score 0.75-0.82 on 500 val images between two seeds (README, "The demo").
_base_ = [
    '../_base_/models/ssdlite300_mobilenet.py',
    '../_base_/datasets/ssd_pipelines.py',
    '../_base_/schedules/ssd_voc_120k.py',
    '../_base_/default_runtime.py',
]
data_root = 'data/demo/'
# the set this config trains on: `python tools/make_demo_dataset.py --config <this file>` (make demo does)
demo_dataset = dict(
    num_train=4000,
    num_val=500,
    image_size=320,
    min_px=40,
    max_frac=0.6,
    max_objects=4,
    aspect_range=(0.7, 1.0),
    stroke_contrast=2.0,
    backdrop_blur=8.0,
    backdrop_contrast=0.35,
)
model = dict(
    num_classes=10,
    # from scratch, so the demo runs offline on a fresh machine: no timm weights (the base starts from them; they
    # would need a download and width 1), and the input they would have set, stated here: RGB, (x - 127.5) / 127.5
    data_preprocessor=dict(mean=[127.5, 127.5, 127.5], std=[127.5, 127.5, 127.5], bgr_to_rgb=True),
    backbone=dict(width_mult=0.5, pretrained=None),
    head=dict(init_background_prob=0.99),  # RetinaNet's prior-probability bias for the softmax
    prior_generator=dict(s_min=0.1, s_max=0.8),
    matcher=dict(_delete_=True, type='ArgMaxMatcher', matched_threshold=0.5, unmatched_threshold=0.4),
)
train_pipeline = [dict(type='LoadImage'), dict(type='Resize', size=(300, 300)), dict(type='PackInputs')]
train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,  # a loader process would fight the 2 torch threads
    sampler=dict(type='InfiniteSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type='CocoDataset',
        data_root=data_root,
        ann_file='annotations/instances_train.json',
        data_prefix=dict(img='train/'),
        pipeline=train_pipeline,
    ),
)
val_dataloader = dict(
    batch_size=16,
    num_workers=0,
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
        pipeline={{_base_.test_pipeline_300}},
    ),
)
test_dataloader = val_dataloader
val_evaluator = dict(type='VOCMetric', iou_threshold=0.5, mode='area')
test_evaluator = val_evaluator
max_iters = 2700
# bfloat16 autocast (1.5x faster on CPUs with avx512_bf16/AMX and on GPUs from Ampere; float32 elsewhere)
optim_wrapper = dict(
    _delete_=True,
    type='BF16OptimWrapper',  # not the released bias 2x lr
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-4),
    paramwise_cfg=dict(norm_decay_mult=0, bias_decay_mult=0),
)  # decay on conv weights only
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=100, end=max_iters, eta_min=1e-4),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(logger=dict(interval=50), checkpoint=dict(interval=max_iters))
