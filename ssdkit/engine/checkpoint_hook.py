"""mmengine's ``CheckpointHook`` with a safe order: write the new checkpoint, then point ``last_checkpoint`` at it
(atomically), then remove the ones beyond ``max_keep_ckpts``. mmengine removes the oldest before writing, so a
write that fails (a full disk, a kill) could leave no checkpoint at all."""

from __future__ import annotations

from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook as MMCheckpointHook

from ssdkit.registry import HOOKS
from ssdkit.utils.atomic import atomic_write_text


@HOOKS.register_module(name="CheckpointHook")
class CheckpointHook(MMCheckpointHook):
    """``type='CheckpointHook'`` in an ssdkit config; the same arguments as mmengine's."""

    def _save_checkpoint_with_step(self, runner, step: int, meta: dict) -> None:
        filename = self.filename_tmpl.format(step)
        path = self.file_backend.join_path(self.out_dir, filename)
        kept = self.keep_ckpt_ids if self.max_keep_ckpts > 0 else None  # made by before_train only then
        previous = (self.last_ckpt, list(kept or ()))
        stale: list[int] = []
        if kept is not None and (not kept or kept[-1] != step):
            if len(kept) == self.max_keep_ckpts:
                stale.append(kept[0])
            kept.append(step)  # a deque of maxlen max_keep_ckpts: drops the oldest
        self._publish(runner, path)  # the checkpoint records itself as the newest and in the kept list
        runner.save_checkpoint(
            self.out_dir,
            filename,
            self.file_client_args,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler,
            meta=meta,
            by_epoch=self.by_epoch,
            backend_args=self.backend_args,
            **self.args,
        )
        if not is_main_process():
            return
        if not self.file_backend.isfile(path):  # checkpoint_errors='continue' let a failed write pass
            if kept is not None:
                kept.clear()
                kept.extend(previous[1])
            self._publish(runner, previous[0])
            return
        atomic_write_text(f"{runner.work_dir}/last_checkpoint", path)
        for old in stale:
            old_path = self.file_backend.join_path(self.out_dir, self.filename_tmpl.format(old))
            if self.file_backend.isfile(old_path):
                self.file_backend.remove(old_path)
            elif self.file_backend.isdir(old_path):  # deepspeed writes a folder
                self.file_backend.rmtree(old_path)

    def _publish(self, runner, path: str | None) -> None:
        self.last_ckpt = path
        runner.message_hub.update_info("last_ckpt", path)
        if self.max_keep_ckpts > 0:
            runner.message_hub.update_info("keep_ckpt_ids", list(self.keep_ckpt_ids))
