# MobileNet-SSD (chuanqi305/MobileNet-SSD, MobileNetSSD_deploy.prototxt; VOC07 test mAP 72.7) in its layout:
# MobileNetV1 (BN) tapped at conv11 (19x19, 512) and conv13 (10x10, 1024), four extra layers conv14 .. conv17
# (1x1 then 3x3 stride 2, each with BN and ReLU: 5, 3, 2, 1), 1x1 prediction convs. One departure from the release:
# the base network starts from timm's ImageNet MobileNetV1, so it has ReLU6 (not ReLU) and that model's input (RGB,
# (x / 255 - 0.5) / 0.5, not the release's BGR (x - 127.5) * 0.007843: the same scale, channels swapped).
# configs/ssd300_mobilenet_caffe.py is the release exactly. docs/recipes.md has the sources.
model = dict(
    type='SSD',
    num_classes=20,
    # mean, std and channel order come from the backbone's weights (a config that states others is an error)
    data_preprocessor=dict(type='ImgDataPreprocessor'),
    # timm's mobilenetv1_100 ImageNet weights (needs `pip install 'ssdkit[timm]'`; fetched once into the Hugging
    # Face hub cache, or backbone.weights_file=PATH); they were trained with ReLU6, which they require
    backbone=dict(type='MobileNetV1', out_indices=(11, 13), activation='relu6', pretrained='timm'),
    neck=dict(
        type='SSDExtraLayers',
        norm='BN',
        extra_channels=((256, 512), (128, 256), (128, 256), (64, 128)),
        strides=(2, 2, 2, 2),
        paddings=(1, 1, 1, 1),
        kernel_sizes=(3, 3, 3, 3),
    ),
    head=dict(type='SSDHead', kernel_size=1),
    # PriorBox per level: conv11 min_size 60 with no max_size (3 boxes: 1 and 2, 1/2); conv13 .. conv17_2 min/max
    # 105/150, 150/195, 195/240, 240/285, 285/300 with ratios 2, 3 (6 boxes). As fractions of the 300 input:
    prior_generator=dict(
        type='SSDPriorGenerator',
        aspect_ratios=[[2], [2, 3], [2, 3], [2, 3], [2, 3], [2, 3]],
        scales=[0.2, 0.35, 0.5, 0.65, 0.8, 0.95, 1.0],
        extra_square=[False, True, True, True, True, True],
    ),
    matcher=dict(type='SSDMatcher', iou_threshold=0.5),
    box_coder=dict(type='SSDBoxCoder', variances=(0.1, 0.1, 0.2, 0.2)),
    loss=dict(type='MultiBoxLoss', neg_pos_ratio=3, alpha=1.0),
    postprocessor=dict(type='SSDPostprocessor', score_thr=0.01, pre_nms_topk=400, nms_iou=0.45, max_per_img=200),
)
