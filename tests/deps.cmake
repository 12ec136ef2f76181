# Per-suite extra link dependencies. Keep each block guarded by if(TARGET ...).
