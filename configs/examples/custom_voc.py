# Train on your own data in Pascal VOC layout: copy this file, edit `data_root` and `classes` in the copy, train.
#   cp configs/examples/custom_voc.py configs/my_data.py
#   python tools/train.py configs/my_data.py
#
# data_root/
#   Annotations/<id>.xml       one VOC xml per image (objects with <name> and <bndbox>)
#   JPEGImages/<id>.jpg        (another suffix: set img_suffix='.png' on both datasets)
#   ImageSets/Main/train.txt   the image ids to train on, one per line
#   ImageSets/Main/val.txt     the image ids to evaluate on
#
# The model is SSDLite300 on MobileNetV1, trained from scratch with the recipe that trains the demo from scratch
# (SGD 0.1 with warm-up and cosine decay) and the released SSD's augmentation; model.num_classes comes from
# `classes`. README, "Train on your own data", says how many iterations to expect.
_base_ = [
    '../_base_/models/ssdlite300_mobilenet.py',
    '../_base_/datasets/ssd_pipelines.py',
    '../_base_/default_runtime.py',
]
data_root = 'data/my_voc/'
classes = ('cat', 'dog')
max_iters = 12000
# before the first iteration, the priors are fitted to your objects when fewer than 90 % of them have a prior at
# IoU 0.5 (README, "Small objects"); None only checks them
auto_priors = dict(min_coverage=0.9)

model = dict(
    num_classes=None,  # from the classes
    # from scratch, as the README's iteration counts assume, on the input the demo uses (RGB scaled to
    # [-1, 1]); to start from timm's ImageNet MobileNetV1 instead (a download; pip install 'ssdkit[timm]') delete
    # these two lines: the base config's backbone has pretrained='timm' and its normalisation comes with the weights
    data_preprocessor=dict(mean=[127.5, 127.5, 127.5], std=[127.5, 127.5, 127.5], bgr_to_rgb=True),
    backbone=dict(pretrained=None),
)
dataset = dict(type='VOCDataset', data_root=data_root, year=None, metainfo=dict(classes=classes))
train_dataloader = dict(
    batch_size=16,
    num_workers='auto',  # from the cores the run has (ssdkit.engine.workers)
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(dataset, split='train', pipeline={{_base_.train_pipeline_300}}),
)
val_dataloader = dict(
    batch_size=8,
    num_workers='auto',  # from the cores the run has (ssdkit.engine.workers)
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(dataset, split='val', test_mode=True, pipeline={{_base_.test_pipeline_300}}),
)
test_dataloader = val_dataloader
val_evaluator = dict(type='VOCMetric', iou_threshold=0.5, mode='area')
test_evaluator = val_evaluator

# from scratch: SGD 0.1 (nesterov), 500 iterations of warm-up, cosine decay; bfloat16 where the CPU/GPU has it
optim_wrapper = dict(
    type='BF16OptimWrapper', optimizer=dict(type='SGD', lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-4)
)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=500),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=500, end=max_iters, eta_min=1e-4),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=2000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(checkpoint=dict(interval=2000))
