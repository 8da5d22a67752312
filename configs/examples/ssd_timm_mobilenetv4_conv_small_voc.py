# SSDLite300 on a timm backbone: MobileNetV4-Conv-Small (timm's mobilenetv4_conv_small, ImageNet-1k weights) tapped
# at stride 16 (19x19 x 96) and stride 32 (10x10 x 960), then configs/ssdlite300_mobilenet.py's depthwise extras
# (5, 3, 2, 1), depthwise predictors, priors, VOC07+12 data and solver. Any timm model works the same way: set
# model_name and the out_indices of its stride-16 and stride-32 levels (timm's feature_info); channel counts and
# the input normalisation (timm's pretrained_cfg mean / std, RGB) come from timm. Needs `pip install 'ssdkit[timm]'`;
# the weights come from the Hugging Face hub cache (offline: backbone.weights_file=PATH to model.safetensors).
_base_ = '../ssdlite300_mobilenet.py'
model = dict(
    backbone=dict(
        _delete_=True, type='TimmBackbone', model_name='mobilenetv4_conv_small', out_indices=(3, 4), pretrained=True
    ),
)
