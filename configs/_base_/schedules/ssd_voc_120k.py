# The released SSD's VOC07+12 solver (weiliu89/caffe ssd_pascal.py): SGD lr 1e-3, momentum 0.9, weight decay
# 5e-4, batch 32, 120k iterations, x0.1 at 80k and 100k, no warm-up; biases at 2x lr without weight decay.
# The paper (§3.1) gives 40k iterations at 1e-3, then 10k at 1e-4 and 10k at 1e-5 for its VOC2007 test models,
# the 07+12 SSD300 (74.3) among them, before zoom out; zoom out doubles the iterations (§3.6). docs/recipes.md.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=1e-3, momentum=0.9, weight_decay=5e-4),
    paramwise_cfg=dict(bias_lr_mult=2, bias_decay_mult=0),
)
param_scheduler = [dict(type='MultiStepLR', by_epoch=False, milestones=[80000, 100000], gamma=0.1)]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=120000, val_interval=10000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
auto_scale_lr = dict(enable=False, base_batch_size=32)
