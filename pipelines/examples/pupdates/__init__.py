"""The Pooch Predictor: predict a dog post's likes. Data from pipelines/datagen/pupdates.py."""
