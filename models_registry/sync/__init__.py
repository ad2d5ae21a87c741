"""Reviewed catalog sync: upstream price sources → proposed changes → an editor's review → audited apply."""
