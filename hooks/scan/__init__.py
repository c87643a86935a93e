"""Vulnerability scanning: image inventories (SBOMs) matched against an offline OSV database.

layers.py reads a layer as a stream of tar entries; sources/ tell which files hold packages and
parse them; layer_index.py and inventory.py turn layers into an image's packages; osv.py,
versions.py and severity.py read advisories; vulndb.py imports them; matching.py finds what
affects an inventory; sbom.py writes the SBOM; scanner.py scans one image; worker.py works the
queue that trigger.py fills; events.py announces outcomes.
"""
