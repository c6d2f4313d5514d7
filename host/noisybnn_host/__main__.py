"""`python -m noisybnn_host ...`: see noisybnn_host.validate."""

from noisybnn_host.validate import main

raise SystemExit(main())
