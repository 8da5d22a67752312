# torchvision's SSDLite320 COCO solver (references/detection/README.md, "SSDlite320 MobileNetV3-Large"): SGD lr 0.15,
# momentum 0.9, weight decay 4e-5 on every parameter, batch 24 on each of 8 GPUs (192), 660 epochs with a cosine
# decay, linear warm-up from 0.001x over the first 1000 iterations (train.py / engine.py). ssdkit counts iterations:
# 660 epochs x ceil(117266 / 192) = 611 iterations (train2017 images with annotations) = 403260; the cosine runs per
# iteration instead of per epoch.
iters_per_epoch = -(-117266 // 192)  # ceil: 611
max_iters = 660 * iters_per_epoch
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.15, momentum=0.9, weight_decay=4e-5))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=1000),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=0, end=max_iters, T_max=max_iters, eta_min=0.0),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=10 * iters_per_epoch)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
auto_scale_lr = dict(enable=False, base_batch_size=192)
