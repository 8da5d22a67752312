# MobileNet-SSD (VOC07 test mAP 72.7, 11-point, as released): model, augmentation and solver of
# chuanqi305/MobileNet-SSD. The released model starts from weights trained on COCO, which cannot be downloaded;
# this starts from timm's ImageNet MobileNetV1 instead, with its ReLU6 and its input (RGB, (x / 255 - 0.5) / 0.5;
# the release: ReLU, BGR (x - 127.5) * 0.007843). docs/recipes.md lists every choice and its source.
_base_ = [
    './_base_/models/ssd300_mobilenet.py',
    './_base_/datasets/voc0712.py',
    './_base_/schedules/mobilenet_ssd_voc_120k.py',
    './_base_/default_runtime.py',
]
train_dataloader = dict(batch_size=24)  # MobileNetSSD_train_template.prototxt
