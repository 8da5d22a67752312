# torchvision's COCO SSDLite320-MobileNetV3-Large (21.3 box AP on val2017, 3.44 M parameters), reproduced: its
# weights converted by `python tools/convert_torchvision.py ssdlite320_mobilenet_v3_large SRC.pth DST.pth` load here
# and give the same detections (tests/test_convert.py). torchvision trained it from scratch, without ImageNet
# weights, and so with the reduced tail (MobileNetV3 Table 6) and its N(0, 0.03) initialisation, on input scaled
# to [-1, 1] (mean = std = 0.5 on 0..1 pixels, RGB); configs/ssdlite320_mobilenetv3_voc0712.py starts from ImageNet.
_base_ = [
    './_base_/models/ssdlite320_mobilenetv3.py',
    './_base_/datasets/coco_320_ssdlite.py',
    './_base_/schedules/ssdlite_coco_660e.py',
    './_base_/default_runtime.py',
]
model = dict(
    data_preprocessor=dict(mean=[127.5, 127.5, 127.5], std=[127.5, 127.5, 127.5], bgr_to_rgb=True),
    backbone=dict(reduced_tail=True, init='normal'),
)
train_dataloader = dict(batch_size=24)  # per process; torchvision: 24 on each of 8 GPUs
