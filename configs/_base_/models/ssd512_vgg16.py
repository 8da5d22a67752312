# SSD512: one more extra layer (conv12_2) and the released model's prior sizes.
_base_ = './ssd300_vgg16.py'
model = dict(
    neck=dict(
        type='SSDExtraLayers',
        extra_channels=((256, 512), (128, 256), (128, 256), (128, 256), (128, 256)),
        strides=(2, 2, 2, 2, 1),
        paddings=(1, 1, 1, 1, 1),
        kernel_sizes=(3, 3, 3, 3, 4),
    ),
    prior_generator=dict(
        aspect_ratios=[[2], [2, 3], [2, 3], [2, 3], [2, 3], [2], [2]],
        first_scale=0.07,  # ssd_pascal_512: 0.07, then 0.15 .. 0.9 in steps of 0.15, and 1.05 for the last extra box
        min_ratio=15,  # at 512: 35.84, 76.8 .. 460.8, and 537.6
        max_ratio=90,
        steps=[8, 16, 32, 64, 128, 256, 512],
    ),
)
