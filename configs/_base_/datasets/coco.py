# COCO trainval35k-style training on train2017, evaluation on val2017 with pycocotools.
_base_ = './ssd_pipelines.py'
dataset_type = 'CocoDataset'
data_root = 'data/coco/'
train_dataloader = dict(
    batch_size=32,
    num_workers='auto',  # from the cores the run has (ssdkit.engine.workers)
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/instances_train2017.json',
        data_prefix=dict(img='train2017/'),
        filter_empty_gt=True,
        pipeline={{_base_.train_pipeline_300}},
    ),
)
val_dataloader = dict(
    batch_size=8,
    num_workers='auto',  # from the cores the run has (ssdkit.engine.workers)
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/instances_val2017.json',
        data_prefix=dict(img='val2017/'),
        test_mode=True,
        pipeline={{_base_.test_pipeline_300}},
    ),
)
test_dataloader = val_dataloader
val_evaluator = dict(type='CocoMetric', ann_file=data_root + 'annotations/instances_val2017.json')
test_evaluator = val_evaluator
