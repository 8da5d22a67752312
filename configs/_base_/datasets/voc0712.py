# PASCAL VOC 07+12 trainval for training, VOC2007 test for evaluation (the paper's setting).
dataset_type = 'VOCDataset'
data_root = 'data/VOCdevkit/'
input_size = 300
mean_rgb = [123.0, 117.0, 104.0]
train_pipeline = [
    dict(type='LoadImage'),
    dict(type='PhotometricDistortion'),
    dict(type='Expand', mean=mean_rgb, ratio_range=(1, 4)),
    dict(type='MinIoURandomCrop', min_ious=(0.1, 0.3, 0.5, 0.7, 0.9), min_crop_size=0.1),
    dict(type='Resize', size=(input_size, input_size)),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImage'),
    dict(type='Resize', size=(input_size, input_size)),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=32, num_workers=2, persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type='ConcatDataset', datasets=[
        dict(type=dataset_type, data_root=data_root, year=2007, split='trainval', pipeline=train_pipeline),
        dict(type=dataset_type, data_root=data_root, year=2012, split='trainval', pipeline=train_pipeline),
    ]))
val_dataloader = dict(
    batch_size=8, num_workers=2, persistent_workers=True, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type=dataset_type, data_root=data_root, year=2007, split='test', pipeline=test_pipeline,
                 test_mode=True))
test_dataloader = val_dataloader
val_evaluator = dict(type='VOCMetric', iou_threshold=0.5, mode='11points')
test_evaluator = val_evaluator
