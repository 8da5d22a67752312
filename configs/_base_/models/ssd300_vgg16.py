# SSD300 with the VGG16-atrous base network (Liu et al. 2016, Fig. 2); priors as the released Caffe model.
model = dict(
    type='SSD',
    num_classes=20,
    # mean, std and channel order come from the backbone's weights (a config that states others is an error)
    data_preprocessor=dict(type='ImgDataPreprocessor'),
    # IMAGENET1K_FEATURES (default): conv1_1 .. conv5_3 are the Caffe VGG16 the paper and the released model
    # fine-tune (ported by ssd.pytorch; torchvision's ssd300_vgg16 starts from them too), with that model's input
    # (RGB 0..255 minus [123, 117, 104], std 1). It has no fc6/fc7, so conv6/conv7 (5.8 M parameters) start from
    # Xavier, as in torchvision: what is given up is the paper's pretrained, subsampled fc6/fc7
    # (VGG_ILSVRC_16_layers_fc_reduced). To have them, set model.backbone.pretrained='IMAGENET1K_V1' (torchvision's
    # own VGG16, fc6/fc7 subsampled into conv6/conv7; mean/std-normalised input, which the model then takes).
    # docs/recipes.md compares them.
    # Nothing frozen, as the final released ssd_pascal.py (weiliu89/caffe, branch ssd) trains every layer
    # (docs/recipes.md, "frozen layers"). torchvision freezes conv1 (trainable_backbone_layers); frozen_stages=N
    # freezes the first N VGG blocks.
    backbone=dict(
        type='VGG16Atrous',
        out_features=('conv4_3', 'conv7'),
        l2_norm_scale=20.0,
        pretrained='IMAGENET1K_FEATURES',
        frozen_stages=-1,
    ),
    neck=dict(type='SSDExtraLayers'),  # conv8_2 .. conv11_2: 10, 5, 3, 1
    head=dict(type='SSDHead'),
    prior_generator=dict(
        type='SSDPriorGenerator',
        aspect_ratios=[[2], [2, 3], [2, 3], [2, 3], [2], [2]],
        # the released sizes as fractions of the input: conv4_3 at 0.1, then 0.2 .. 0.88 in steps of 0.17
        # (ssd_pascal.py: min_ratio 20, max_ratio 90, step floored to 17%), and 1.05 for the last extra box;
        # at 300: min sizes 30, 60, 111, 162, 213, 264, max sizes 60 .. 315
        first_scale=0.1,
        min_ratio=20,
        max_ratio=90,
        steps=[8, 16, 32, 64, 100, 300],
    ),
    matcher=dict(type='SSDMatcher', iou_threshold=0.5),
    box_coder=dict(type='SSDBoxCoder', variances=(0.1, 0.1, 0.2, 0.2)),
    loss=dict(type='MultiBoxLoss', neg_pos_ratio=3, alpha=1.0),
    postprocessor=dict(type='SSDPostprocessor', score_thr=0.01, pre_nms_topk=400, nms_iou=0.45, max_per_img=200),
)
