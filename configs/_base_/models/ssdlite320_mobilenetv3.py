# SSDLite320 on MobileNetV3-Large as torchvision's ssdlite320_mobilenet_v3_large builds it (torchvision
# models/detection/ssdlite.py): the backbone tapped at the C4 expansion (672 ch, 20x20) and at its end (10x10),
# four extra blocks (1x1 -> depthwise 3x3 stride 2 -> 1x1, each BN + ReLU6; 512, 256, 256, 128: 5, 3, 2, 1),
# depthwise predictors (3x3 depthwise + BN + ReLU6, then 1x1), BN eps 0.001 / momentum 0.03 throughout.
model = dict(
    type='SSD',
    num_classes=80,
    data_preprocessor=dict(type='ImgDataPreprocessor'),
    backbone=dict(
        type='MobileNetV3',
        arch='large',
        out_features=('stride16_expand', 'stride32'),
        norm_cfg=dict(eps=0.001, momentum=0.03),
    ),
    neck=dict(
        type='SSDExtraLayers',
        depthwise=True,
        norm_cfg=dict(eps=0.001, momentum=0.03),
        init='normal',
        extra_channels=((256, 512), (128, 256), (128, 256), (64, 128)),
        strides=(2, 2, 2, 2),
        paddings=(1, 1, 1, 1),
        kernel_sizes=(3, 3, 3, 3),
    ),
    head=dict(type='SSDHead', depthwise=True, norm_cfg=dict(eps=0.001, momentum=0.03), init='normal'),
    # DefaultBoxGenerator([[2, 3]] * 6, min_ratio=0.2, max_ratio=0.95): scales 0.2 + 0.15 k, then 1.0 (torchvision
    # appends 1.0 where the paper's rule extrapolates), width/height clipped to the image: 3234 priors at 320
    prior_generator=dict(
        type='SSDPriorGenerator', aspect_ratios=[[2, 3]] * 6, scales=[0.2, 0.35, 0.5, 0.65, 0.8, 0.95, 1.0], clip='wh'
    ),
    matcher=dict(type='SSDMatcher', iou_threshold=0.5),
    box_coder=dict(type='SSDBoxCoder', variances=(0.1, 0.1, 0.2, 0.2)),
    loss=dict(type='MultiBoxLoss', neg_pos_ratio=3, alpha=1.0),
    # torchvision's ssdlite320 defaults: score 0.001, 300 candidates per class, NMS 0.55, 300 per image
    postprocessor=dict(type='SSDPostprocessor', score_thr=0.001, pre_nms_topk=300, nms_iou=0.55, max_per_img=300),
)
