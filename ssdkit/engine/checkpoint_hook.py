"""mmengine's ``CheckpointHook`` with a safe order: write the new checkpoint, then point ``last_checkpoint`` at it
(atomically), then remove the ones beyond ``max_keep_ckpts``; a new best checkpoint is written before the previous
best is removed. mmengine removes first, so a write that fails (a full disk, a kill) could leave none."""

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

    def _save_best_checkpoint(self, runner, metrics: dict) -> None:
        """mmengine's, with the previous best removed only once the new best file exists; when the write fails the
        previous best stays the best (its file, score and path)."""
        backend, info = self.file_backend, runner.message_hub.runtime_info
        before = (self._best_paths(), {k: v for k, v in info.items() if k.startswith(("best_score", "best_ckpt"))})
        deferred: list[str] = []
        backend.remove = deferred.append  # mmengine removes before it writes
        try:
            super()._save_best_checkpoint(runner, metrics)
            written = not is_main_process() or all(p is None or backend.isfile(p) for p in self._best_paths().values())
        except BaseException:
            written = False
            raise
        finally:
            del backend.remove  # the class's method again
            if not written:
                self._restore_best(before[0])
                for key in [k for k in info if k.startswith(("best_score", "best_ckpt"))]:
                    del info[key]
                info.update(before[1])
        if is_main_process() and written:
            for old in deferred:
                backend.remove(old)

    def _best_paths(self) -> dict:
        many = getattr(self, "best_ckpt_path_dict", None)
        return dict(many) if many is not None else {None: getattr(self, "best_ckpt_path", None)}

    def _restore_best(self, paths: dict) -> None:
        if None in paths:
            self.best_ckpt_path = paths[None]
        else:
            self.best_ckpt_path_dict.update(paths)

    def _publish(self, runner, path: str | None) -> None:
        self.last_ckpt = path
        runner.message_hub.update_info("last_ckpt", path)
        if self.max_keep_ckpts > 0:
            runner.message_hub.update_info("keep_ckpt_ids", list(self.keep_ckpt_ids))
