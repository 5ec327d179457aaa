"""understudy's code-sandbox harness: runs one sample and its tests, and reports a pass only by
writing a per-run secret the sample never sees (see sandbox.rs and README's threat model).

Files in the working directory, all removed before the sample runs: solution.py (the prompt and
the sample's code), test.py (the tests, absent for a plain script), entry.txt (the function the
tests' check() is called with). The secret arrives on stdin and is held only by an audit hook,
which no Python object refers to. The sample runs in its own module namespace; the tests run in a
copy of it whose builtins are the ones from before the sample ran, and check() is called through
a reference the harness holds. Any exception, SystemExit included, is a failure. From the moment
the sample starts the hook refuses the standard ways to reach the harness's frame or memory
(frame and traceback access, gc, tracing, signal handlers, /proc, new audit hooks, fresh copies of
built-in modules), process creation and the modules that escape the interpreter (ctypes and
friends). The pass is written by the hook, only when the harness itself asks with a key object
that exists in the harness's frame alone.
"""


def _harness():
    import builtins
    import faulthandler
    import linecache
    import os
    import posix
    import shutil
    import signal
    import stat
    import subprocess
    import sys
    import traceback
    import types
    import _imp
    import _signal
    import _thread

    def take(name):
        try:
            with open(name, encoding="utf-8") as f:
                text = f.read()
        except FileNotFoundError:
            return None
        posix.remove(name)
        return text

    solution = take("solution.py") or ""
    test = take("test.py")
    entry = (take("entry.txt") or "").strip()
    posix.remove(__file__)

    refused_modules = frozenset([
        "ipdb", "joblib", "resource", "psutil", "tkinter", "multiprocessing", "ctypes", "_ctypes",
        "_posixsubprocess", "socket", "_socket", "pty", "signal", "_signal", "posix", "_imp", "sys",
    ])
    refused_events = frozenset([
        "sys._getframe", "sys._current_frames", "sys._current_exceptions", "gc.get_objects",
        "gc.get_referrers", "gc.get_referents", "sys.settrace", "sys.setprofile",
        "os.fork", "os.forkpty", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.kill",
        "os.killpg", "subprocess.Popen", "pty.spawn",
    ])
    frame_attributes = frozenset(["tb_frame", "gi_frame", "cr_frame", "ag_frame", "f_back"])

    def guard(secret, key_box, open_fd, write, exit_now, stat_of, proc_device, is_dir,
              create_builtin, namespace):
        """The audit hook. It alone holds the secret; once armed it refuses what could reach it."""
        state = {"armed": False, "key": None, "done": False}

        def refuse(what):
            return f"{what} is refused inside the understudy sandbox"

        def hook(event, args):
            if type(event) is not str:
                return
            if event == "understudy.arm":
                if state["key"] is None and not state["done"]:
                    state["key"] = key_box.pop()
                    state["armed"] = True
                return
            key = state["key"]
            if event in ("understudy.pass", "understudy.fail"):
                if key is None or not args or args[0] is not key or state["done"]:
                    raise PermissionError(refuse(event))
                state["done"] = True
                state["armed"] = False
                if event == "understudy.pass":
                    fd = open_fd(".understudy-pass", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                    write(fd, secret)
                    exit_now(0)
                return
            if event == "understudy.create_builtin":
                name = getattr(args[0], "name", None) if args else None
                if type(name) is not str or (state["armed"] and name in refused_modules):
                    raise ImportError(refuse(f"a new copy of the built-in module {name!r}"))
                args[1].append(create_builtin(namespace(name=name)))
                return
            if not state["armed"]:
                return
            if event in refused_events:
                # ValueError is what the standard library expects from sys._getframe (typing,
                # namedtuple and warnings fall back quietly).
                raise ValueError(refuse(event))
            if event == "sys.addaudithook":
                raise RuntimeError(refuse(event))
            if event == "object.__getattr__" and len(args) > 1 and type(args[1]) is str \
                    and args[1] in frame_attributes:
                raise AttributeError(refuse(args[1]))
            if event == "import" and args and type(args[0]) is str \
                    and args[0].rpartition(".")[2] in refused_modules:
                raise ImportError(refuse(f"import of {args[0]}"))
            if event == "open" and args and type(args[0]) in (str, bytes, int):
                try:
                    found = stat_of(args[0])
                except (OSError, ValueError):
                    return
                if found.st_dev == proc_device or is_dir(found.st_mode):
                    raise PermissionError(refuse(f"opening {args[0]!r}"))

        return hook

    key = object()
    key_box = [key]
    sys.addaudithook(guard(posix.read(0, 256), key_box, posix.open, posix.write, posix._exit,
                           posix.stat, posix.stat("/proc").st_dev, stat.S_ISDIR,
                           _imp.create_builtin, types.SimpleNamespace))
    posix.close(0)
    del guard

    # What the harness calls once the sample has run, taken before it can replace them.
    audit, exit_now, run, build = sys.audit, posix._exit, exec, compile
    new_module, copy, failed_with = types.ModuleType, dict, BaseException
    pristine_builtins = dict(builtins.__dict__)

    def gated_create_builtin(spec, audit=audit):
        made = []
        audit("understudy.create_builtin", spec, made)
        return made[0]

    _imp.create_builtin = gated_create_builtin

    # As OpenAI's HumanEval harness does: take away process creation and destructive calls.
    faulthandler.disable()
    for name in ["_exit", "kill", "system", "putenv", "remove", "removedirs", "rmdir", "fchdir",
                 "setuid", "fork", "forkpty", "killpg", "rename", "renames", "truncate",
                 "replace", "unlink", "fchmod", "fchown", "chmod", "chown", "chroot", "lchown",
                 "getcwd", "chdir", "spawnl", "spawnle", "spawnlp", "spawnlpe", "spawnv",
                 "spawnve", "spawnvp", "spawnvpe", "execl", "execle", "execlp", "execlpe",
                 "execv", "execve", "execvp", "execvpe", "posix_spawn", "posix_spawnp",
                 "register_at_fork"]:
        for module in (os, posix):
            if hasattr(module, name):
                setattr(module, name, None)
    # A Python signal handler is handed the interrupted frame, which could be the harness's.
    for name in ["signal", "setitimer", "alarm", "raise_signal", "pthread_kill", "set_wakeup_fd"]:
        for module in (signal, _signal):
            if hasattr(module, name):
                setattr(module, name, None)
    shutil.rmtree = shutil.move = shutil.chown = None
    subprocess.Popen = None
    builtins.exit = builtins.quit = None
    for name in ["ipdb", "joblib", "resource", "psutil", "tkinter", "multiprocessing", "ctypes",
                 "_ctypes", "_posixsubprocess", "socket", "_socket", "pty", "signal", "_signal"]:
        sys.modules[name] = None
    del name, module, take, signal, _signal, _thread, shutil, subprocess, faulthandler

    failure = None
    audit("understudy.arm")
    try:
        sample = new_module("solution")
        sys.modules["solution"] = sample
        run(build(solution, "solution.py", "exec"), sample.__dict__)
        if test is not None:
            tests = new_module("tests")
            tests.__dict__.update(sample.__dict__)
            tests.__dict__["__name__"] = "tests"
            tests.__dict__["__builtins__"] = copy(pristine_builtins)
            run(build(test, "test.py", "exec"), tests.__dict__)
            check = tests.__dict__["check"]
            check(tests.__dict__[entry])
    except failed_with as error:  # SystemExit and KeyboardInterrupt fail too
        failure = error
    if failure is None:
        audit("understudy.pass", key)
    audit("understudy.fail", key)
    try:
        for name, text in (("solution.py", solution), ("test.py", test or "")):
            linecache.cache[name] = (len(text), None, text.splitlines(True), name)
        traceback.print_exception(type(failure), failure, failure.__traceback__,
                                  file=sys.__stderr__)
        sys.__stderr__.flush()
    except failed_with:  # the sample may have broken stderr; the outcome stands
        pass
    exit_now(1)


globals().pop("_harness")()
