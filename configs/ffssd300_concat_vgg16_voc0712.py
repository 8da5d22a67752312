_base_ = [
    './_base_/models/ffssd300_vgg16.py',
    './_base_/datasets/voc0712.py',
    './_base_/schedules/ssd_voc_120k.py',
    './_base_/default_runtime.py',
]
