"""`bort pipeline`: the whole job (search, extract, distil, fine-tune, export) from one config file, resumable."""
