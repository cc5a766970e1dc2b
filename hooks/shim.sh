#!/bin/sh
# berth-hook v1
# Installed by `berth hooks install` as @HOOK@; `berth hooks uninstall` removes
# it and puts back the hook it replaced. Generated from berth's hooks/shim.sh:
# edits here are overwritten. How it decides: docs/how-it-works.md.
#
# The common case (a file checkout, or a branch switch that changes no
# migration) is decided here in a few milliseconds, without starting Python.

hook=@HOOK@
berth_python=@PYTHON@
berth_fast=@FAST@

# The hook this one replaced runs first, with the same arguments and input;
# its failure is this hook's failure.
status=0
if [ "$hook" = post-rewrite ]; then
    rewritten=$(cat)
fi
if [ -x "$0.legacy" ]; then
    if [ "$hook" = post-rewrite ]; then
        printf '%s\n' "$rewritten" | "$0.legacy" "$@"
    else
        "$0.legacy" "$@"
    fi
    status=$?
fi

[ "${BERTH_SKIP_HOOKS:-}" = 1 ] && exit $status

# The berth home and server `berth hooks install` ran with ('' = not set then):
# a git command run without these variables still provisions there.
pinned_home=@BERTH_HOME@
pinned_data_dir=@BERTH_DATA_DIR@
pinned_server=@BERTH_SERVER@
pinned_server_secret=@SERVER_SECRET@ # 1: BERTH_SERVER held a password, not written here
differs=
pin() { # NAME RECORDED: set NAME when it is unset; note it when it is set to another value
    [ -n "$2" ] || return 0
    eval "pin_value=\${$1:-}"
    if [ -z "$pin_value" ]; then
        export "$1=$2"
    elif [ "${pin_value%/}" != "${2%/}" ]; then
        differs="$differs $1"
    fi
}
pin BERTH_HOME "$pinned_home"
pin BERTH_DATA_DIR "$pinned_data_dir"
pin BERTH_SERVER "$pinned_server"
unpinned=
if [ "$pinned_server_secret" = 1 ] && [ -z "${BERTH_SERVER:-}" ]; then
    unpinned=1 # berth would work on another server: better not at all
fi

case $hook in
    post-checkout)
        # $3 = 0: files were checked out, not a branch; nothing for berth.
        [ "$3" = 1 ] || exit $status
        old=$1
        new=$2
        ;;
    post-merge)
        old=ORIG_HEAD
        new=HEAD
        # A squash merge ($1 = 1) commits nothing: its changes are in the work tree.
        if [ "$1" = 1 ]; then old=HEAD; new=; fi
        ;;
    post-rewrite)
        new=HEAD
        if [ "$1" = amend ]; then old=${rewritten%% *}; else old=ORIG_HEAD; fi
        ;;
    *) exit $status ;;
esac
argc=$#
arg1=$1
arg2=$2
arg3=$3

nl='
'
dirs=$(git rev-parse --path-format=absolute --git-dir --git-common-dir 2>/dev/null) || exit $status
git_dir=${dirs%%"$nl"*}
common_dir=${dirs#*"$nl"}

# A rebase checks out its base first; post-rewrite reports once it is done.
if [ "$hook" = post-checkout ] && { [ -d "$git_dir/rebase-merge" ] || [ -d "$git_dir/rebase-apply" ]; }; then
    exit $status
fi

# Does berth (Python) have to look? Only when this worktree is new, has no
# berth yet, or its migrations (or berth's config) differ between old and new.
ask=1
case $old in
    *[!0]*) fresh= ;;
    *) fresh=1 ;;
esac
cache=$git_dir/berth-hook.env
fast=
if [ -n "$fresh" ] && [ "$git_dir" != "$common_dir" ]; then
    ask=1 # git worktree add
    fast=1
elif [ -f "$cache" ]; then
    berth_cache= berth_config= berth_unmanaged= berth_watch=
    . "$cache"
    if [ "$berth_cache" != 1 ]; then
        ask=1
    elif [ -n "$berth_config" ] && [ "$berth_config" -nt "$cache" ]; then
        ask=1 # berth's config was edited since berth last looked
    elif [ "$berth_unmanaged" = 1 ]; then
        ask=
    elif [ -f "$git_dir/berth.json" ] && [ -z "$fresh" ]; then
        eval "set -- $berth_watch"
        if [ $# -eq 0 ] || git diff --quiet "$old" ${new:+"$new"} -- "$@" 2>/dev/null; then
            ask=
        fi
    fi
fi

if [ -z "$ask" ]; then
    # Nothing changed here; retire berths of worktrees that vanished since.
    gitdirs=$common_dir/berth-gitdirs
    if [ -f "$gitdirs" ]; then
        while IFS= read -r dir; do
            if [ -n "$dir" ] && [ ! -d "$dir" ]; then
                if [ -x "$berth_python" ] && [ -z "$unpinned" ]; then
                    "$berth_python" -m berth gc </dev/null >/dev/null 2>&1 &
                fi
                break
            fi
        done <"$gitdirs"
    fi
    exit $status
fi

if [ ! -x "$berth_python" ]; then
    echo "berth: $berth_python is gone; install berth again, then run: berth hooks install" >&2
    exit $status
fi
if [ -n "$unpinned" ]; then
    echo "berth: set BERTH_SERVER: these hooks were installed with it (its password is not kept here); or name the server in berth's config.toml and run berth hooks install again" >&2
    exit $status
fi
if [ -n "$differs" ]; then
    echo "berth: warning: using this shell's$differs, not what berth hooks install recorded for this repository (berth hooks status)" >&2
fi
# A new worktree with the sidecar running: ask it directly, with Python's bare
# interpreter (no site packages, no berth command line); 75 means "not this way".
if [ -n "$fast" ] && [ -f "$berth_fast" ]; then
    "$berth_python" -I -S "$berth_fast" </dev/null
    berth_status=$?
    if [ $berth_status -ne 75 ]; then
        [ $status -ne 0 ] && exit $status
        exit $berth_status
    fi
fi
case $argc in
    3) set -- "$arg1" "$arg2" "$arg3" ;;
    *) set -- "$arg1" ;;
esac
if [ "$hook" = post-rewrite ]; then
    printf '%s\n' "$rewritten" | "$berth_python" -m berth hooks run "$hook" "$@"
else
    "$berth_python" -m berth hooks run "$hook" "$@" </dev/null
fi
berth_status=$?
[ $status -ne 0 ] && exit $status
exit $berth_status
