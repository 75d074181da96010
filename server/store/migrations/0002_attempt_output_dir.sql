-- Where an attempt writes its outputs (checkpoints) on its worker's host, as the
-- worker reported it when the attempt started; lets later runs start from them.
ALTER TABLE attempts ADD COLUMN output_dir text NOT NULL DEFAULT '';
