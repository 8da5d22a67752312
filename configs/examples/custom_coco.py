# Train on your own data in COCO json layout: copy this file, edit `data_root` (and the file names), train.
#   cp configs/examples/custom_coco.py configs/my_data.py
#   python tools/train.py configs/my_data.py
#
# data_root/
#   annotations/train.json     COCO json: images, annotations (bbox [x, y, w, h] in pixels), categories
#   annotations/val.json
#   images/                    the image files, as named in the json's file_name
#
# The class names are the json's categories (sorted by id); model.num_classes comes from them. The model and
# recipe are configs/examples/custom_voc.py's: SSDLite300 on MobileNetV1 from scratch. Evaluation is COCO AP
# through pycocotools (VOCMetric also works: val_evaluator = dict(type='VOCMetric', mode='area')).
_base_ = './custom_voc.py'
data_root = 'data/my_coco/'
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='CocoDataset',
        data_root=data_root,
        ann_file='annotations/train.json',
        data_prefix=dict(img='images/'),
        pipeline={{_base_.train_pipeline_300}},
    )
)
val_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='CocoDataset',
        data_root=data_root,
        ann_file='annotations/val.json',
        data_prefix=dict(img='images/'),
        test_mode=True,
        pipeline={{_base_.test_pipeline_300}},
    )
)
test_dataloader = val_dataloader
val_evaluator = dict(_delete_=True, type='CocoMetric', ann_file=data_root + 'annotations/val.json')
test_evaluator = val_evaluator
