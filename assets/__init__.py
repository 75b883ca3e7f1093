"""The data flow: read export packs, standardise them, load the warehouse, score indicators."""
