# MobileNet-SSD as released (VOC07 test mAP 72.7, 11-point): model, input, augmentation and solver of
# chuanqi305/MobileNet-SSD. The released model starts from weights trained on COCO; without them (they cannot be
# downloaded here) this trains from scratch. docs/recipes.md lists every choice and its source.
_base_ = [
    './_base_/models/ssd300_mobilenet.py', './_base_/datasets/voc0712.py',
    './_base_/schedules/mobilenet_ssd_voc_120k.py', './_base_/default_runtime.py',
]
train_dataloader = dict(batch_size=24)  # MobileNetSSD_train_template.prototxt
