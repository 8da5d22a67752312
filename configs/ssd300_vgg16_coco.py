_base_ = [
    './_base_/models/ssd300_vgg16.py',
    './_base_/datasets/coco.py',
    './_base_/schedules/ssd_coco_400k.py',
    './_base_/default_runtime.py',
]
# COCO's smaller objects: s_min 0.15 with conv4_3 at 0.07. These are torchvision ssd300_vgg16's
# priors exactly (scales 0.07 .. 1.05, width/height clipped to the image), so its COCO weights
# converted by tools/convert_torchvision.py load here and give the same detections (its input normalisation,
# torchvision's IMAGENET1K_FEATURES, comes with the backbone's weights).
model = dict(
    num_classes=80,
    prior_generator=dict(
        _delete_=True,
        type='SSDPriorGenerator',
        aspect_ratios=[[2], [2, 3], [2, 3], [2, 3], [2], [2]],
        first_scale=0.07,  # scales 0.07, then 0.15 .. 0.87 in steps of 0.18, and 1.05
        min_ratio=15,
        max_ratio=90,
        steps=[8, 16, 32, 64, 100, 300],
        clip='wh',
    ),
)
