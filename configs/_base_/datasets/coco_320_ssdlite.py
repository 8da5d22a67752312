# COCO at 320x320 with torchvision's SSDLite augmentation (crop and flip only).
_base_ = './coco.py'
train_dataloader = dict(dataset=dict(pipeline={{_base_.train_pipeline_ssdlite_320}}))
val_dataloader = dict(dataset=dict(pipeline={{_base_.test_pipeline_320}}))
test_dataloader = dict(dataset=dict(pipeline={{_base_.test_pipeline_320}}))
