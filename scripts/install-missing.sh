# Sourced by the scripts that build and run firmware: installs what a fresh machine lacks for them
# (thumb targets, Debian packages), and only that, so that each script works as its first command.

# install_targets TARGET...: the rustup targets not installed yet.
install_targets() {
  local installed target
  installed=$(rustup target list --installed)
  for target in "$@"; do
    if ! grep -qx "$target" <<<"$installed"; then
      rustup target add "$target"
    fi
  done
}

# install_packages COMMAND:PACKAGE...: the Debian package of each command not on PATH.
install_packages() {
  local missing=() pair
  for pair in "$@"; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    # No questions asked; through env, as sudo drops the environment.
    local run=(env "DEBIAN_FRONTEND=${DEBIAN_FRONTEND:-noninteractive}")
    if [ "$(id -u)" != 0 ]; then
      if ! command -v sudo >/dev/null 2>&1; then
        echo "needs the Debian packages ${missing[*]}: install them as root (apt-get install ${missing[*]})" >&2
        return 1
      fi
      run=(sudo "${run[@]}")
    fi
    # A fresh VM's first minutes often have apt's daily job holding the lock: wait for it.
    "${run[@]}" apt-get -o DPkg::Lock::Timeout=300 update
    "${run[@]}" apt-get -o DPkg::Lock::Timeout=300 install -y "${missing[@]}"
  fi
}
