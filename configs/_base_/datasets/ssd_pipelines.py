# The released SSD's training pipeline (weiliu89/caffe ssd_pascal.py; the paper §2.2 describes it): photometric
# distortion, zoom out, min-IoU crop, resize, flip; and the test pipeline, at 300 and 512. OpenCV loads BGR; the
# model's data_preprocessor converts and normalises. docs/recipes.md names each choice and its source.
# Expand's fill colour is the model's input mean, filled in when ssdkit loads the config (ssdkit.engine.recipe).
RELEASED_INTERPOLATIONS = ['linear', 'area', 'nearest', 'cubic', 'lanczos']  # ssd_pascal.py resize_param interp_mode


def _train(size):
    return [
        dict(type='LoadImage'),
        dict(type='PhotometricDistortion'),  # no channel swap: the released random_order_prob is 0
        dict(type='Expand', ratio_range=(1, 4), prob=0.5),
        # the released samplers: min_scale 0.3 (the paper's text says 0.1), any object reaching the IoU qualifies
        dict(
            type='MinIoURandomCrop',
            min_ious=(0.1, 0.3, 0.5, 0.7, 0.9),
            min_crop_size=0.3,
            rule='any',
            patch_sampling='scale_aspect',
        ),
        dict(type='Resize', size=(size, size), interpolation=RELEASED_INTERPOLATIONS),
        dict(type='RandomFlip', prob=0.5),
        dict(type='PackInputs'),
    ]


def _test(size):
    return [dict(type='LoadImage'), dict(type='Resize', size=(size, size)), dict(type='PackInputs')]


train_pipeline_300, test_pipeline_300 = _train(300), _test(300)
train_pipeline_512, test_pipeline_512 = _train(512), _test(512)


def _ssdlite_train(size):
    # torchvision's `--data-augmentation ssdlite` (references/detection/presets.py): RandomIoUCrop and a flip only,
    # no photometric distortion or zoom out; its RandomIoUCrop draws w and h each in [0.3, 1] with aspect 0.5-2,
    # any object reaching the IoU qualifies, 40 trials. The model resizes to the fixed input (bilinear).
    return [
        dict(type='LoadImage'),
        dict(
            type='MinIoURandomCrop',
            min_ious=(0.1, 0.3, 0.5, 0.7, 0.9),
            min_crop_size=0.3,
            rule='any',
            patch_sampling='sides',
            max_trials=40,
        ),
        dict(type='Resize', size=(size, size)),
        dict(type='RandomFlip', prob=0.5),
        dict(type='PackInputs'),
    ]


train_pipeline_ssdlite_320, test_pipeline_320 = _ssdlite_train(320), _test(320)
