_base_ = [
    './_base_/models/ssd512_vgg16.py', './_base_/datasets/coco_512.py',
    './_base_/schedules/ssd_coco_400k.py', './_base_/default_runtime.py',
]
# COCO's smaller objects: s_min 0.1 with conv4_3 at 0.04 (the released model's sizes).
model = dict(num_classes=80, prior_generator=dict(
    min_sizes=[20.48, 51.2, 133.12, 215.04, 296.96, 378.88, 460.8],
    max_sizes=[51.2, 133.12, 215.04, 296.96, 378.88, 460.8, 542.72]))
