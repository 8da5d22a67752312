# SSDLite300-MobileNetV1 (ssdkit's): MobileNetV1 taps at conv11 (19x19) and conv13 (10x10), depthwise extras and
# depthwise predictors as torchvision's SSDLite (Sandler et al. 2018), ReLU6, 2268 priors on the paper's scale rule;
# the base network starts from timm's ImageNet MobileNetV1.
model = dict(
    type='SSD',
    num_classes=20,
    # mean, std and channel order come from the backbone's weights (a config that states others is an error)
    data_preprocessor=dict(type='ImgDataPreprocessor'),
    # timm's mobilenetv1_100 ImageNet weights (`pip install 'ssdkit[timm]'`; RGB, (x / 255 - 0.5) / 0.5)
    backbone=dict(type='MobileNetV1', out_indices=(11, 13), activation='relu6', pretrained='timm'),
    neck=dict(
        type='SSDExtraLayers',
        depthwise=True,
        extra_channels=((256, 512), (128, 256), (128, 256), (64, 128)),
        strides=(2, 2, 2, 2),
        paddings=(1, 1, 1, 1),
        kernel_sizes=(3, 3, 3, 3),
    ),  # 5, 3, 2, 1
    head=dict(type='SSDHead', depthwise=True),
    prior_generator=dict(
        type='SSDPriorGenerator',
        aspect_ratios=[[2], [2, 3], [2, 3], [2, 3], [2], [2]],
        s_min=0.2,
        s_max=0.95,
        clip='wh',
    ),
    matcher=dict(type='SSDMatcher', iou_threshold=0.5),
    box_coder=dict(type='SSDBoxCoder'),
    loss=dict(type='MultiBoxLoss', neg_pos_ratio=3),
    postprocessor=dict(type='SSDPostprocessor'),
)
