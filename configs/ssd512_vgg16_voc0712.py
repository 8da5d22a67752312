_base_ = [
    './_base_/models/ssd512_vgg16.py',
    './_base_/datasets/voc0712_512.py',
    './_base_/schedules/ssd_voc_120k.py',
    './_base_/default_runtime.py',
]
