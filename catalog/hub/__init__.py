"""Fill the catalog from the Hugging Face Hub: typed records at the boundary, derivation, paging, snapshots."""
