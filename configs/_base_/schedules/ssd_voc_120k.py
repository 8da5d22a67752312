# The paper's VOC schedule: SGD lr 1e-3, momentum 0.9, weight decay 5e-4, batch 32, 120k iterations,
# x0.1 at 80k and 100k, with a linear warm-up.
optim_wrapper = dict(type='OptimWrapper',
                     optimizer=dict(type='SGD', lr=1e-3, momentum=0.9, weight_decay=5e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(type='MultiStepLR', by_epoch=False, milestones=[80000, 100000], gamma=0.1),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=120000, val_interval=10000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
auto_scale_lr = dict(enable=False, base_batch_size=32)
