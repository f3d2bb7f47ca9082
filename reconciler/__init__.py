"""dns-reconciler: GitOps for a BIND primary nameserver and the host it runs on.

dnspython names cryptography's DSA key classes in its DNSSEC module, and cryptography 51
deprecates them: every command that reads DNSSEC (apply, rollback, the daemon, doctor) printed
eight lines of CryptographyDeprecationWarning on stderr before its one-line result. The
reconciler uses no DSA; that warning from that module is silenced here, for every entry point.
"""

import warnings

warnings.filterwarnings("ignore", message="DSA is deprecated", module=r"dns\.dnssecalgs\.dsa")
