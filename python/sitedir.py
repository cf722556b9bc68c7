"""Prints where `make install PREFIX=...` puts the shmq module: the
directory this python3 searches for PREFIX (Debian: /usr ->
/usr/lib/python3/dist-packages, /usr/local ->
/usr/local/lib/python3.X/dist-packages; elsewhere PREFIX/lib/python3.X/
site-packages)."""
import sys
import sysconfig

prefix = sys.argv[1].rstrip("/") or "/"
schemes = sysconfig.get_scheme_names()
if prefix == "/usr" and "deb_system" in schemes:
    scheme, base = "deb_system", prefix
elif prefix == "/usr/local" and "posix_local" in schemes:
    scheme, base = "posix_local", "/usr"  # it adds the /local itself
else:
    scheme, base = "posix_prefix", prefix
print(sysconfig.get_path("platlib", scheme, vars={"base": base, "platbase": base}))
