# The paper's training pipeline (§2.2: photometric distortion, zoom-out, min-IoU crop, flip) and the
# test pipeline, at 300 and 512. OpenCV loads BGR; the model's data_preprocessor converts to RGB.
mean_rgb = [123.0, 117.0, 104.0]


def _train(size):
    return [
        dict(type='LoadImage'),
        dict(type='PhotometricDistortion'),
        dict(type='Expand', mean=mean_rgb, ratio_range=(1, 4)),
        dict(type='MinIoURandomCrop', min_ious=(0.1, 0.3, 0.5, 0.7, 0.9), min_crop_size=0.1),
        dict(type='Resize', size=(size, size)),
        dict(type='RandomFlip', prob=0.5),
        dict(type='PackInputs'),
    ]


def _test(size):
    return [dict(type='LoadImage'), dict(type='Resize', size=(size, size)), dict(type='PackInputs')]


train_pipeline_300, test_pipeline_300 = _train(300), _test(300)
train_pipeline_512, test_pipeline_512 = _train(512), _test(512)
