# Train on your own data in YOLO txt layout (ultralytics; Roboflow, CVAT and Label Studio export it): copy this
# file, edit `data_root` in the copy, train.
#   cp configs/examples/custom_yolo.py configs/my_data.py
#   python tools/train.py configs/my_data.py
#
# data_root/
#   data.yaml                  names: [cat, dog] (or {0: cat, 1: dog}); train: images/train; val: images/val
#   images/train/<name>.jpg    (a split may also be a .txt listing image paths, or a list of folders / lists)
#   labels/train/<name>.txt    one object a line: class cx cy w h, normalised to 0..1; empty or missing: no objects
#   images/val/, labels/val/
#
# The class names are data.yaml's names; model.num_classes comes from them. The model and recipe are
# configs/examples/custom_voc.py's: SSDLite300 on MobileNetV1 from scratch; evaluation is VOC mAP@0.5.
_base_ = './custom_voc.py'
data_root = 'data/my_yolo/'
dataset = dict(_delete_=True, type='YOLODataset', data_root=data_root, data_yaml='data.yaml')
train_dataloader = dict(dataset=dict(dataset, split='train', pipeline={{_base_.train_pipeline_300}}))
val_dataloader = dict(dataset=dict(dataset, split='val', test_mode=True, pipeline={{_base_.test_pipeline_300}}))
test_dataloader = val_dataloader
