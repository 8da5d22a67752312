default_scope = 'ssdkit'
env_cfg = dict(
    cudnn_benchmark=False, mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0), dist_cfg=dict(backend='nccl')
)
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='CheckpointHook', interval=5000, by_epoch=False, max_keep_ckpts=3, save_best='auto', rule='greater'
    ),  # best by the first metric: VOC mAP / COCO AP (higher is better)
    sampler_seed=dict(type='DistSamplerSeedHook'),
)
custom_hooks = [
    dict(type='TimedProgressHook', every=30),  # a training progress line at least every 30 s
    dict(type='EvalProgressBarHook'),  # live progress, rate and ETA through val/test
]
log_processor = dict(type='LogProcessor', window_size=50, by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
# TensorBoard: tools/train.py --tensorboard (pip install 'ssdkit[tensorboard]'), or add
# dict(type='TensorboardVisBackend') to vis_backends in a config
visualizer = dict(type='Visualizer', vis_backends=[dict(type='LocalVisBackend')])
