# Feature-Fused SSD300 (concat) on VOC07+12 (Cao et al. 2017). The paper fine-tunes a trained SSD300 to 78.8 VOC07
# test mAP; this trains from ImageNet with the SSD300 recipe (docs/recipes.md), not measured here to reach 78.8.
# conv6/conv7 start from Xavier with the default IMAGENET1K_FEATURES weights (no fc6/fc7); for the paper's
# subsampled fc6/fc7: --cfg-options model.backbone.pretrained=IMAGENET1K_V1
_base_ = [
    './_base_/models/ffssd300_vgg16.py',
    './_base_/datasets/voc0712.py',
    './_base_/schedules/ssd_voc_120k.py',
    './_base_/default_runtime.py',
]
