# SSD300-MobileNet on the bundled demo set (tools/make_demo_dataset.py --out data/demo): handwritten
# digits from scikit-learn pasted onto scikit-image's photographs, COCO format, 10 classes.
_base_ = [
    '../_base_/models/ssd300_mobilenet.py', '../_base_/datasets/ssd_pipelines.py',
    '../_base_/schedules/ssd_voc_120k.py', '../_base_/default_runtime.py',
]
data_root = 'data/demo/'
input_size = 300
model = dict(num_classes=10)
# digits are not mirror-symmetric: the paper's pipeline without the horizontal flip
train_pipeline = [
    dict(type='LoadImage'),
    dict(type='PhotometricDistortion'),
    dict(type='Expand', mean=[123.0, 117.0, 104.0], ratio_range=(1, 2)),
    dict(type='MinIoURandomCrop', min_ious=(0.1, 0.3, 0.5, 0.7, 0.9), min_crop_size=0.3),
    dict(type='Resize', size=(300, 300)),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=16, num_workers=2, persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type='CocoDataset', data_root=data_root, ann_file='annotations/instances_train.json',
                 data_prefix=dict(img='train/'), pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=16, num_workers=2, persistent_workers=True, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type='CocoDataset', data_root=data_root, ann_file='annotations/instances_val.json',
                 data_prefix=dict(img='val/'), test_mode=True, pipeline={{_base_.test_pipeline_300}}))
test_dataloader = val_dataloader
val_evaluator = dict(type='VOCMetric', iou_threshold=0.5, mode='area')
test_evaluator = val_evaluator
# a CPU-sized schedule; the training issue tunes it for `make demo`
optim_wrapper = dict(optimizer=dict(lr=0.01))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='MultiStepLR', by_epoch=False, milestones=[1500, 1800], gamma=0.1),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=2000, val_interval=500)
