# The paper's COCO schedule: 160k iterations at 1e-3, then 40k at 1e-4 and 40k at 1e-5 (batch 32).
_base_ = './ssd_voc_120k.py'
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(type='MultiStepLR', by_epoch=False, milestones=[160000, 200000], gamma=0.1),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=240000, val_interval=20000)
