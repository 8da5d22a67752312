# PASCAL VOC 07+12 at 320x320 with torchvision's SSDLite augmentation (crop and flip only).
_base_ = './voc0712.py'
train_dataloader = dict(
    dataset=dict(datasets=[dict(d, pipeline=_base_.train_pipeline_ssdlite_320) for d in _base_.voc0712_trainval])
)
val_dataloader = dict(dataset=dict(pipeline={{_base_.test_pipeline_320}}))
test_dataloader = dict(dataset=dict(pipeline={{_base_.test_pipeline_320}}))
