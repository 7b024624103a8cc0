"""The practice service: good practice and the NEJpraxe vote."""
