# The released SSD's COCO solver (weiliu89/caffe ssd_coco.py): the VOC solver's SGD, batch 32, x0.1 at 280k and
# 360k, 400k iterations. (The paper's 240k, 160k + 40k + 40k, is for the model without zoom-out augmentation.)
_base_ = './ssd_voc_120k.py'
param_scheduler = [dict(type='MultiStepLR', by_epoch=False, milestones=[280000, 360000], gamma=0.1)]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=400000, val_interval=40000)
