# The released Caffe MobileNet-SSD (chuanqi305/MobileNet-SSD, VOC0712, 20 classes + background; VOC07 test mAP 72.7)
# exactly, for its weights converted by `python tools/convert_caffe.py mobilenet_ssd DEPLOY.prototxt
# WEIGHTS.caffemodel DST.pth` (tests/test_convert_caffe.py: the same detections as OpenCV DNN running the Caffe
# files). Every part of the network is stated here, so later edits of the base config cannot change it.
_base_ = ['./ssd300_mobilenet.py']
model = dict(
    num_classes=20,
    # the released input: OpenCV's BGR as loaded, (x - 127.5) * 0.007843 (transform_param scale), no channel swap
    data_preprocessor=dict(
        _delete_=True, type='ImgDataPreprocessor', mean=[127.5, 127.5, 127.5], std=[1 / 0.007843] * 3, bgr_to_rgb=False
    ),
    # MobileNetV1 with ReLU (not ReLU6) and BatchNorm, tapped at conv11 (19x19 x 512) and conv13 (10x10 x 1024); no
    # ImageNet weights (the base's timm weights have ReLU6 and RGB input): the converted checkpoint holds every weight
    backbone=dict(_delete_=True, type='MobileNetV1', out_indices=(11, 13), activation='relu', pretrained=None),
    # conv14_1/2 .. conv17_1/2: 1x1 then 3x3 stride 2 pad 1, each with BN and ReLU (10 -> 5, 3, 2, 1)
    neck=dict(
        _delete_=True,
        type='SSDExtraLayers',
        norm='BN',
        extra_channels=((256, 512), (128, 256), (128, 256), (64, 128)),
        strides=(2, 2, 2, 2),
        paddings=(1, 1, 1, 1),
        kernel_sizes=(3, 3, 3, 3),
    ),
    head=dict(_delete_=True, type='SSDHead', kernel_size=1),  # conv*_mbox_loc / _conf: 1x1 with bias
    # PriorBox: min_size 60 (no max_size: 3 boxes), then 105/150, 150/195, 195/240, 240/285, 285/300 with ratios 2, 3
    # (6 boxes); flip, no clip, offset 0.5, no step (centres at (j + 0.5) * 300 / map size)
    prior_generator=dict(
        _delete_=True,
        type='SSDPriorGenerator',
        aspect_ratios=[[2], [2, 3], [2, 3], [2, 3], [2, 3], [2, 3]],
        min_sizes=[60, 105, 150, 195, 240, 285],
        max_sizes=[None, 150, 195, 240, 285, 300],
        extra_square=[False, True, True, True, True, True],
        steps=None,
        offset=0.5,
        clip=None,
    ),
    box_coder=dict(_delete_=True, type='SSDBoxCoder', variances=(0.1, 0.1, 0.2, 0.2)),  # CENTER_SIZE, 0.1 0.1 0.2 0.2
    # MobileNetSSD_train_template.prototxt's MultiBoxLoss: match_type PER_PREDICTION, overlap_threshold 0.5, that is
    # Caffe's MatchBBox: greedy bipartite matching (each gt a prior of its own), then every other prior at IoU >= 0.5
    matcher=dict(_delete_=True, type='SSDMatcher', iou_threshold=0.5, bipartite='greedy'),
    # MobileNetSSD_deploy.prototxt's DetectionOutput: confidence_threshold 0.25, nms top_k 100, nms_threshold 0.45,
    # keep_top_k 100; boxes not clipped (Caffe's DetectionOutput decodes with clip_bbox = false). The VOC mAP of 72.7
    # is measured with MobileNetSSD_test.prototxt's 0.01, 400, 0.45, 200: tools/test.py --cfg-options
    # model.postprocessor.score_thr=0.01 model.postprocessor.pre_nms_topk=400 model.postprocessor.max_per_img=200
    postprocessor=dict(
        _delete_=True,
        type='SSDPostprocessor',
        score_thr=0.25,
        pre_nms_topk=100,
        nms_iou=0.45,
        max_per_img=100,
        clip=False,
    ),
)
