# The released MobileNet-SSD solver (chuanqi305/MobileNet-SSD solver_train.prototxt): RMSProp (Caffe's rms_decay 0.99,
# delta 1e-8, no momentum), lr 5e-4, weight decay 5e-5, x0.5 at 20k and 40k, 120k iterations, no warm-up; biases at
# 2x lr without decay and BN scales without decay (the train prototxt). The prototxt's 0.1x lr on the backbone, extras
# and box layers belongs to fine-tuning its COCO model, which cannot be loaded yet: here every layer trains at 1x.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='RMSprop', lr=5e-4, alpha=0.99, eps=1e-8, momentum=0, weight_decay=5e-5),
    paramwise_cfg=dict(bias_lr_mult=2, bias_decay_mult=0, norm_decay_mult=0),
)
param_scheduler = [dict(type='MultiStepLR', by_epoch=False, milestones=[20000, 40000], gamma=0.5)]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=120000, val_interval=10000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
auto_scale_lr = dict(enable=False, base_batch_size=24)
