_base_ = [
    './_base_/models/ssd512_vgg16.py',
    './_base_/datasets/coco_512.py',
    './_base_/schedules/ssd_coco_400k.py',
    './_base_/default_runtime.py',
]
# COCO's smaller objects: s_min 0.1 with conv4_3 at 0.04 (the released model's sizes).
model = dict(
    num_classes=80, prior_generator=dict(first_scale=0.04, min_ratio=10, max_ratio=90)
)  # at 512: 20.48, 51.2 .. 460.8, and 542.72
