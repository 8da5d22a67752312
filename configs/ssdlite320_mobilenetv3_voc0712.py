# SSDLite320-MobileNetV3-Large on VOC07+12, starting from torchvision's ImageNet MobileNetV3-Large: the full tail
# (the ImageNet weights have no reduced one) and the weights' own normalisation (ImageNet mean/std; torchvision's
# SSDLite keeps [-1, 1] even with them). Architecture, priors and test settings as
# configs/ssdlite320_mobilenetv3_coco.py; a fine-tuning schedule of ssdkit's own (docs/recipes.md), no released model.
_base_ = [
    './_base_/models/ssdlite320_mobilenetv3.py',
    './_base_/datasets/voc0712_320_ssdlite.py',
    './_base_/default_runtime.py',
]
model = dict(num_classes=20, backbone=dict(pretrained='IMAGENET1K_V1'))
train_dataloader = dict(batch_size=32)
max_iters = 120000
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=4e-5))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=1000),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=0, end=max_iters, T_max=max_iters, eta_min=0.0),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=10000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
auto_scale_lr = dict(enable=False, base_batch_size=32)
