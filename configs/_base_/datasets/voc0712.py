# PASCAL VOC 07+12 trainval for training, VOC2007 test for evaluation (the paper's setting).
_base_ = './ssd_pipelines.py'
dataset_type = 'VOCDataset'
data_root = 'data/VOCdevkit/'
# VOC2007 and VOC2012 trainval, without a pipeline (voc0712_512.py gives them its own)
voc0712_trainval = [dict(type=dataset_type, data_root=data_root, year=year, split='trainval') for year in (2007, 2012)]
train_dataloader = dict(
    batch_size=32,
    num_workers='auto',  # from the cores the run has (ssdkit.engine.workers)
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type='ConcatDataset', datasets=[dict(d, pipeline=_base_.train_pipeline_300) for d in voc0712_trainval]
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
        year=2007,
        split='test',
        pipeline={{_base_.test_pipeline_300}},
        test_mode=True,
    ),
)
test_dataloader = val_dataloader
val_evaluator = dict(type='VOCMetric', iou_threshold=0.5, mode='11points')
test_evaluator = val_evaluator
